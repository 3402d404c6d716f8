// Package segments is Relata's audiences: named sets of contacts a campaign is sent to.
//
// A dynamic segment is a saved PocketBase filter over contacts that may reach related
// records (company.country = "Italy", deals_via_contacts.stage ?= "won"); a static segment is
// a list of contacts added by hand from a list selection or by importing addresses. Members
// are always read for someone, through schemas' one access check ([schemas.MatchQuery] and
// [schemas.ListQuery]): the web app counts a segment as the signed-in user, a campaign
// evaluates it as its owner — never as a superuser — and the filter guard
// ([schemas.CheckFilter]) refuses filters that would compare values of related records the
// reader may not see (use the ?-operators across multi-valued relations).
//
//	n, err := segments.Count(app, schemas.User(alice), seg)
//	err = segments.Each(app, schemas.User(owner), seg, 500, func(contacts []*core.Record) error { … })
//
// [Service.Evaluate] stores the members of every dynamic segment as its owner sees them
// (segment_members with source "evaluated" and the time each entered), every Interval, so
// workflows can ask whether a contact is in a segment without evaluating the filter, and
// "entered segment" shows when. The stored membership lags the data by up to Interval.
package segments
