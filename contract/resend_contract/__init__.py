"""The request and result messages of resend-worker, shared by the worker and its producers."""
