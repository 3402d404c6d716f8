// Package insights serves what the web app needs beyond PocketBase's REST API: the live object
// model, the numbers of the pipeline board and the dashboards, a record's timeline, and when
// records entered their stage. Every answer follows the caller's access rules: numbers are
// computed in SQL over exactly the records the caller may list (the object's list rule,
// applied by PocketBase's own rule resolver), and a timeline is served only to a caller who
// may view the record.
//
//	reg := schemas.MustRegister(app, app.RootCmd, schemas.Config{})
//	insights.MustRegister(app, insights.Config{Registry: reg})
//
// Routes (signed-in CRM users and superusers; PocketBase auth token in Authorization):
//
//	GET /api/relata/objects                           the live object model
//	GET /api/relata/objects/{object}                  one object
//	GET /api/relata/insights/pipeline?object=deals    count, total and weighted total per stage
//	GET /api/relata/insights/forecast?object=deals    weighted open value by expected close month
//	GET /api/relata/insights/sources?object=deals     win and conversion rate by lead source
//	GET /api/relata/insights/cycle?object=deals       average days to close and time in each stage
//	GET /api/relata/insights/stage-since?object=deals&ids=a,b   when records entered their stage
//	GET /api/relata/timeline/{object}/{id}            activities, emails, stage changes, runs
//	                                                  (a run's error only to who may read runs)
//
// The insights endpoints take optional parameters that default from the object model:
// pipeline, field (the stage field), amount (a currency or number field), date (the expected
// close date of the forecast), by (the field the sources report groups by) and closed (the
// date a record was closed). Fields hidden in the collection (PocketBase's hidden flag) do not
// exist for CRM users, as in the REST API: no report sums, groups, forecasts or filters by
// one (naming one is a 400, and the defaults pass over them), and timelines leave them out;
// superusers use them.
//
// Reports are bounded by [MaxGroups]: the sources report groups by at most that many values
// (more is a 400 naming by: group a free text field's values elsewhere), and the forecast
// lists the MaxGroups months nearest the current one, summing the open records of the others
// in otherMonths.
//
// Money: amounts of a currency field are summed per currency, then converted to the
// organisation's base currency with the exchange rates in effect on the date given as at
// (YYYY-MM-DD, default today; see [schemas.LoadRates]). Each report states its currency,
// ratesDate, the rates used and missingRates: currencies without a rate on that date, whose
// amounts are left out of every converted total (and kept in each total's byCurrency). At most
// [MaxUnratedCurrencies] currencies without a rate are listed (any three capital letters are a
// valid code); records in further ones are counted and unconverted, their currencies counted
// in moreMissingRates.
package insights
