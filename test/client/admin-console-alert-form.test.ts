/**
 * The console's all-members alert form (issue 21) without a terminal: its checks and the message
 * it sends.
 */
import t from 'tap';
import { alertForm, alertMessage, checkAlert } from '../../src/client/admin-console/alert-form.js';
import { formValues } from '../../src/client/admin-console/form.js';

t.test('the alert form starts urgent and takes the options of siar admin send', async (t) => {
  const v = formValues(alertForm());
  t.same(Object.keys(v), ['subject', 'body', 'priority', 'ack', 'remind', 'expires', 'at']);
  t.equal(v.priority, 'urgent');
  t.same(checkAlert(v), { subject: 'An alert needs a subject.' });
  t.same(alertMessage({ ...v, subject: ' Evakuasi ', body: 'Gedung A' }), {
    all: true, subject: 'Evakuasi', body: 'Gedung A', priority: 'urgent', ack: undefined, remindEvery: undefined, expires: undefined, at: undefined,
  }, 'urgent asks for acknowledgement through the server default');
});

t.test('durations and times are checked before anything is sent; reminders need acknowledgement', async (t) => {
  const base = { ...formValues(alertForm()), subject: 'Siaga' };
  t.equal(checkAlert({ ...base, remind: '15m', expires: '2h', at: '2026-12-24T08:00+08:00' }), null);
  t.same(checkAlert({ ...base, remind: 'soon', expires: 'tomorrow', at: '24/12' }), {
    remind: 'A duration such as 15m or 1h.', expires: 'A duration such as 2h, or an ISO time with its zone.', at: 'A duration such as 2h, or an ISO time with its zone.',
  });
  t.same(checkAlert({ ...base, priority: 'high', remind: '15m' }), { remind: 'Reminders go to those who have not acknowledged: ask for acknowledgement.' });
  t.equal(checkAlert({ ...base, priority: 'high', ack: 'ask', remind: '15m' }), null);
  t.match(alertMessage({ ...base, priority: 'normal', ack: 'do not ask', at: '30m' }), { priority: 'normal', ack: false, at: '30m' });
});
