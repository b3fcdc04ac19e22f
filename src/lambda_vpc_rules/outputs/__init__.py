"""What verdicts become: table, JSON, CSV and ASFF renderings, Security Hub findings, evidence bundles."""
