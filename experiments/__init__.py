"""Orchestration: CLI, config, pipeline stages, behavioural alignment statistics, reports."""
