/** Header names Quarry sets on JetStream messages besides `Nats-Msg-Id` and `traceparent`. */
export const QuarryHeaders = {
  traceparent: 'traceparent',
  dlqReason: 'Quarry-Dlq-Reason',
  dlqCode: 'Quarry-Dlq-Code',
  originSubject: 'Quarry-Origin-Subject',
  originMsgId: 'Quarry-Origin-Msg-Id',
  deliveryCount: 'Quarry-Delivery-Count',
} as const;
