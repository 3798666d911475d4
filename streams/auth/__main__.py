"""`python -m streams.auth ...`: see streams.auth.commands."""

from streams.auth.commands import main

raise SystemExit(main())
