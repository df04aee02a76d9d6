"""`python -m srft` and `accelerate launch -m srft ...`: the same as the `srft` command."""

from srft.cli import main

main()
