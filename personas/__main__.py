from personas.cli import main

main(prog_name="personas")
