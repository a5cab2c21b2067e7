"""Tests of the operators' view: dashboard, alerting rules, their unit tests and the runbook."""
