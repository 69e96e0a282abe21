"""Shared test helpers: tiny real PEFT adapters (peft_fixtures) reused across the test files."""
