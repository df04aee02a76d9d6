"""`srft run`: the stage graph, content hashes, skipping and resuming."""
