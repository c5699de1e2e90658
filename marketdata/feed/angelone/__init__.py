"""The Angel One SmartAPI source: login (session), the WebSocket stream, its binary frames, historical candles."""
