"""resend-worker: Cognito ResendConfirmationCode requests from SQS, results to SNS."""

__version__ = "0.1.0"
