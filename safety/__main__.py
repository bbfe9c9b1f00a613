from app.safety_cli import main

main(prog_name="python -m safety")
