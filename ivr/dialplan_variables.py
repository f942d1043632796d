"""Names shared by the dialplan templates, the FastAGI call flow and the AMI adapter."""

# Channel variables
QUEUE_STATUS = "QUEUESTATUS"
# Set by the dialplan when the call flow failed (unreachable, or its connection lost mid-call);
# also written to the call's CDR userfield.
FAILURE = "HOTLINE_FAILURE"

# UserEvent names raised by the call flow (seen by the AMI listener)
EVENT_NOTICE_FINISHED = "HotlineNoticeFinished"
EVENT_RECORDING_STARTED = "HotlineRecordingStarted"
EVENT_MESSAGE_STARTED = "HotlineMessageStarted"
EVENT_CALL_FAILED = "HotlineCallFailed"
# Issue 18, H4: a caller passed on to another node (overflow) was answered there. Raised on the
# leg to the SIP router, naming the first node's call (its uniqueid) in the field Call.
EVENT_OVERFLOW_ANSWERED = "HotlineOverflowAnswered"
# Issue 18, H7: raised by the other node's call flow for a caller passed on to it: its call is
# a leg of the first node's call (fields Call: that call's uniqueid, Node: that node).
EVENT_OVERFLOW_LEG = "HotlineOverflowLeg"
DIAL_STATUS = "DIALSTATUS"
# The operator a call row names when another node's operator answered its caller (that
# node's own row for the call names the operator).
OVERFLOW_OPERATOR = "overflow"
# Gosub routines on the leg to the router: the overflow header before it is sent, the event
# above once the other node answered.
CONTEXT_OVERFLOW_HEADER = "hotline-overflow-header"
CONTEXT_OVERFLOW_ANSWERED = "hotline-overflow-answered"

# FastAGI route of the hotline call flow
AGI_ROUTE = "hotline"

# Dialplan contexts
CONTEXT_CALLERS = "hotline-in"
CONTEXT_OPERATORS = "hotline-operators"
# Where an operator's blind transfer sends the caller (set on operators' channels only).
CONTEXT_TRANSFER = "hotline-transfer"

# Prompt names (files under <data>/sounds/hotline/, without extension)
PROMPT_DIR = "hotline"
BEEP = "beep"

# The automatic satisfaction call-back (满意度回访): the dialer originates a call to the
# citizen through the outbound endpoint into its context, which runs its FastAGI route
# with the call's id (the channel variable, passed as the AGI argument).
AGI_ROUTE_SATISFACTION = "satisfaction"
CONTEXT_SATISFACTION = "hotline-satisfaction"
CONTEXT_OUTBOUND = "hotline-outbound"  # anything identified as the outbound trunk: nowhere
ENDPOINT_OUTBOUND = "citizens-out"
SATISFACTION_CALL_ID = "SATISFACTION_CALL_ID"
SATISFACTION_PROMPT_DIR = "satisfaction"  # under PROMPT_DIR
