"""Stage 4, fine-tuning on existing engines (transformers, PEFT, accelerate)."""
