package hooks

// SubscriptionQuery exposes subscriptionQuery to the package's external tests.
var SubscriptionQuery = subscriptionQuery
