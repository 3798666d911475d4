"""`python -m streams.web.auth ...`: see streams.web.auth.commands."""

from streams.web.auth.commands import main

raise SystemExit(main())
