from halldemo.demo import main

raise SystemExit(main())
