# Convenience aliases for the README commands.
.PHONY: demo test bench
demo:
	./scripts/demo
test:
	./scripts/test
bench:
	./scripts/bench
