"""The governance loop around the engine: administrative divisions, public reports, routing
and alerts per jurisdiction, debunk reach and coverage, and the monthly debunk ranking."""
