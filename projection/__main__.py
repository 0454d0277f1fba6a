from projection.cli import main

main()
