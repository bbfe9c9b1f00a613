from app.personas_cli import main

main(prog_name="personas")
