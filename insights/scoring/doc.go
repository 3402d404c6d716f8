// Package scoring predicts the win probability of records in a pipeline (deals) and the
// conversion probability of leads (contacts: converted against disqualified; see
// [DefaultLeads]) from the organisation's own closed records and explains each prediction in
// words; forecasts the pipeline by month, rep and team with quotas ([Service.Forecast]) and
// backtests the forecasts it makes; and computes rule-based scores (fit and decaying
// behaviour rules, grades A–D; see [RuleSet]).
//
// Every feature is computed as of the moment of scoring: for an open record that is now, for
// a closed record the moment it closed, so nothing that happened after the outcome (the
// onboarding meeting of a won deal, the stage change to "won" itself) can leak into the
// model. The model is an L2-regularised logistic regression on standardised features,
// fitted with gonum's L-BFGS on snapshots along each closed record's life; [Evaluate]
// compares it on the newest 30 % of the closed records with an Odoo-style frequency baseline
// (naive Bayes over the categorical values) and with the stage probability alone.
//
//	d, _ := scoring.Load(app, reg, "deals")
//	report, _ := scoring.Evaluate(d, scoring.Options{})
//	m, _ := scoring.TrainAll(d, scoring.Options{})
//	p, factors := m.Explain(d.Records[0].At(time.Now()), 3)
//
// Routes (CRM users and superusers; reads follow the caller's access through package
// schemas' access check):
//
//	GET  /api/relata/score/{object}/{id}            one record's probability and factors
//	GET  /api/relata/score/{object}?ids=a,b         a page of records, those the caller may view
//	POST /api/relata/score/{object}/train           retrain now (admins; 409 while a training
//	                                                of the object runs, in any process)
//	GET  /api/relata/forecast/{object}              the forecast with quotas (read and summed
//	                                                1,000 records at a time)
//	GET  /api/relata/forecast/{object}/backtest     the backtest of both weightings (one being
//	                                                computed per user at a time: 429 beyond)
//
// What a caller reads is the server's number (a probability, a rule-based score) with words
// about what she may see: factors about a related record she may not view are left out,
// factors about activities and the hits of behaviour rules count only those she may open
// (the rest of a rule-based score is one hit saying so), and the model gives a categorical
// value a weight only when at least [Options.MinLevel] closed records had it, so no weight is
// the outcome of one record.
package scoring
