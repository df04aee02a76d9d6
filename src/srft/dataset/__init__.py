"""Stage 3, masked training data: policies, chat-template rendering, exact loss masks."""
