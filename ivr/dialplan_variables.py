"""Names shared by the dialplan templates, the FastAGI call flow and the AMI adapter."""

# Channel variables
QUEUE_STATUS = "QUEUESTATUS"

# UserEvent names raised by the call flow (seen by the AMI listener)
EVENT_NOTICE_FINISHED = "HotlineNoticeFinished"
EVENT_RECORDING_STARTED = "HotlineRecordingStarted"
EVENT_MESSAGE_STARTED = "HotlineMessageStarted"
EVENT_CALL_FAILED = "HotlineCallFailed"

# FastAGI route of the hotline call flow
AGI_ROUTE = "hotline"

# Dialplan contexts
CONTEXT_CALLERS = "hotline-in"
CONTEXT_OPERATORS = "hotline-operators"

# Prompt names (files under <data>/sounds/hotline/, without extension)
PROMPT_DIR = "hotline"
BEEP = "beep"
