from gova.pipeline import main

raise SystemExit(main())
