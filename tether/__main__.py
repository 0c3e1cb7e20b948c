from tether.core.cli import main

main()
