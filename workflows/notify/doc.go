// Package notify is Relata's notification centre: in-app notifications (the "notifications"
// collection the web app's bell reads in realtime), their optional emails through the outbox,
// reminders before a task is due and the morning digest of today's and overdue tasks, sent at
// 08:00 in each user's time zone.
//
// Record changes become notifications in the transaction that saves them: package hooks calls
// [Send] (assignments, @mentions, replies) and the workflows' notify action does the same.
// The timed parts (reminders, digests) run from [Notifier.Tick], which Register schedules
// every minute with PocketBase's cron; tests call it with a fake clock.
//
//	n, _ := notify.Register(app, notify.Config{Registry: reg})
//	notify.Send(tx, notify.Notification{User: id, Kind: notify.KindAssigned, Title: "…", Key: "assigned:deals:abc:1"})
//
// Every notification has a key: a second Send with the same key does nothing, so a retried
// step or a repeated tick never notifies twice.
package notify
