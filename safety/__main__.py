from safety.cli import main

main(prog_name="python -m safety")
