// Package dedupe finds duplicate records and merges them.
//
// Matching rules say when two records of an object may be one: the same normalized email,
// the same phone number in E.164, the same web domain, the same exact value, or names alike
// by Jaro–Winkler similarity among records sharing a field (a contact's company). Each object
// gets rules derived from its fields ([DefaultRules]) unless a rules file names it
// ([ParseRules], docs/duplicates.md). An [Index] holds the records a caller may view by their
// blocking keys, so finding the pairs of 10,000 contacts compares only records that share a
// key, never every pair.
//
// [Service.Merge] keeps one record and merges the other into it in one transaction: every
// reference moves to the winner (relation fields of every collection, the object/record
// references of workflow runs, emails, consents, form submissions and stage changes, saved
// views' filters), the winner takes the chosen values, and the loser is deleted; its id
// redirects to the winner ([Redirect]). [Service.Undo] reverses a merge while nothing it
// wrote has changed. Both check the caller's rights as the REST API does.
//
//	GET  /api/relata/duplicates/{object}            → {"pairs": [...], "records": n}
//	GET  /api/relata/duplicates/{object}/check?f=v  → {"matches": [...]} a new record's likely duplicates
//	POST /api/relata/merge/{object}                 {"winner", "loser", "take", "keep"} → the merge
//	POST /api/relata/merges/{id}/undo               → the merge undone
//	GET  /api/relata/merges/redirect/{object}/{id}  → {"id": winner} where a merged-away id went
//
// Commands: relata duplicates OBJECT [--json], relata merge OBJECT WINNER LOSER [--field f=loser],
// relata merge undo ID.
package dedupe
