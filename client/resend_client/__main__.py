import sys

from resend_client.cli import main

sys.exit(main())
