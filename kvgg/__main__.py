from kvgg.cli import main

main()
