"""Live market data: exchange adapters, the WebSocket emitter and handler, the local feed server."""
