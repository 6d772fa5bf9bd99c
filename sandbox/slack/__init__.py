"""A Slack-compatible incoming-webhook receiver for the alerts (``receiver.SlackReceiver``); see README.md."""
