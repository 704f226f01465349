// The custom resource of the organisation member template (ADR 0119), as the inline ZipFile source of a
// Node.js Lambda (CommonJS index.js; CloudFormation allows at most 4096 bytes inline, a test holds it under).
// Create and Update post this account, its Security Hub regions and the role ARN to the connector's
// registration endpoint with the organisation registration token; Delete asks to remove the account.
// CloudFormation always gets an answer: a refused registration fails the stack with the API's own message,
// a failed removal is logged and never blocks deleting the stack. The token is never logged.

/** The handler's source, deployed inline: `exports.handler(event, context)`. */
export const REGISTRATION_HANDLER_SOURCE = `'use strict';
const MARGIN_MS = 5000;

// Up to 3 attempts while time remains: a 5xx or a timeout (a role IAM has not propagated yet can outlast
// the API's gateway) is tried again; the API makes a repeated registration idempotent.
async function call(url, body, ms) {
  const deadline = Date.now() + ms;
  for (let attempt = 1; ; attempt++) {
    let res;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(Math.max(1000, deadline - Date.now())),
      });
    } catch (err) {
      if (attempt >= 3 || Date.now() + 5000 > deadline) throw err;
    }
    if (res && (res.status < 500 || attempt >= 3 || Date.now() + 5000 > deadline)) {
      let error;
      try {
        error = (await res.json()).error;
      } catch {
        error = undefined;
      }
      return { status: res.status, body: error };
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

async function answer(event, status, reason, id, data) {
  const body = JSON.stringify({
    Status: status,
    Reason: String(reason).slice(0, 900),
    PhysicalResourceId: id,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    NoEcho: false,
    Data: data,
  });
  // The pre-signed S3 URL is signed without a content type, so none may be sent.
  await fetch(event.ResponseURL, { method: 'PUT', headers: { 'content-type': '' }, body });
}

exports.handler = async (event, context) => {
  const p = event.ResourceProperties;
  const id = 'vsh-org-' + p.AccountId;
  const ms = Math.max(1000, context.getRemainingTimeInMillis() - MARGIN_MS);
  const url = String(p.RegistrationUrl).replace(/\\/+$/, '');
  try {
    if (event.RequestType === 'Delete') {
      const res = await call(url + '/remove', { registrationToken: p.RegistrationToken, accountId: p.AccountId }, ms);
      console.log(JSON.stringify({ action: 'remove', status: res.status, code: res.body && res.body.code }));
      await answer(event, 'SUCCESS', 'removed (' + res.status + ')', event.PhysicalResourceId || id, {});
      return;
    }
    const res = await call(
      url,
      {
        registrationToken: p.RegistrationToken,
        accountId: p.AccountId,
        regions: p.Regions,
        roleArn: p.RoleArn,
      },
      ms,
    );
    console.log(JSON.stringify({ action: 'register', status: res.status, code: res.body && res.body.code }));
    if (res.status === 200 || res.status === 201) {
      await answer(event, 'SUCCESS', 'registered', id, {});
    } else {
      const why = res.body ? res.body.code + ': ' + res.body.message : 'HTTP ' + res.status;
      await answer(event, 'FAILED', 'Data443 registration refused: ' + why, id, {});
    }
  } catch (err) {
    console.log(JSON.stringify({ action: event.RequestType, error: String(err && err.name) }));
    const ok = event.RequestType === 'Delete';
    await answer(event, ok ? 'SUCCESS' : 'FAILED', 'Data443 registration unreachable: ' + (err && err.name), event.PhysicalResourceId || id, {});
  }
};
`;
