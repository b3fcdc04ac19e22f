"""AWS access: clients (retry settings, answers proven to be AWS's), the reads by audience (`facts` for the
rules, `config` for AWS Config's own view, `drift` for what depends on a change), the parsers from AWS
answers to the core's model, the whole-account evaluation, many accounts and regions in one run
(organization), and the IAM actions all of it needs."""
