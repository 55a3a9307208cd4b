from mqttcloud.cli import main

raise SystemExit(main())
