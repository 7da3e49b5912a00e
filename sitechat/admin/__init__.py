"""`sitechat admin ...`: what an operator does without going through the API or billing."""
