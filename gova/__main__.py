from gova.cli import main

raise SystemExit(main())
