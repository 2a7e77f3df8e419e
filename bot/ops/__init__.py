"""Operations: metrics, and the health and readiness endpoints an orchestrator polls."""
