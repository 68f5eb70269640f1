'use strict';
// The gateway called with node-soap (the npm package `soap`), as an integrator's Node.js software calls it: the
// client is built from the served WSDL alone, and node-soap's own WSSecurity adds the UsernameToken to every call.
//
//   node call_gateway.js WSDL_URL < plan.json
//
// The plan on stdin: {"username": ..., "secret": ..., "passwordType": "PasswordDigest" (omitted: node-soap's
// default), "calls": [{"operation": "Integrate", "args": {...}}, ...]}, made in order. In "args" an object
// {"$xml": "..."} is sent as raw XML, which is how node-soap fills an xs:any such as SendFlow's Payload.
// Printed on stdout, one JSON document: {"results": [...]}, one per call in order, each with "operation", either
// "answer" (the Body as node-soap parsed it) or "fault" (faultcode, faultstring, HTTP status), and "sent" and
// "received", the envelopes as they went over the wire. Exit code 0 when every call got an answer or a SOAP fault;
// 1 for anything else (the reason on stderr).

const soap = require('soap');

async function readPlan() {
  const chunks = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

function faultOf(error) {
  const body = error && error.root && error.root.Envelope ? error.root.Envelope.Body : undefined;
  if (!body || !body.Fault) {
    return undefined;
  }
  return {
    faultcode: body.Fault.faultcode,
    faultstring: body.Fault.faultstring,
    status: error.response ? error.response.status : undefined,
  };
}

async function main() {
  const wsdl = process.argv[2];
  if (!wsdl) {
    throw new Error('usage: node call_gateway.js WSDL_URL < plan.json');
  }
  const plan = await readPlan();
  const client = await soap.createClientAsync(wsdl);
  const options = plan.passwordType ? { passwordType: plan.passwordType } : {};
  client.setSecurity(new soap.WSSecurity(plan.username, plan.secret, options));
  const results = [];
  for (const call of plan.calls) {
    const method = client[call.operation + 'Async'];
    if (typeof method !== 'function') {
      throw new Error('the WSDL has no operation ' + call.operation);
    }
    const result = { operation: call.operation };
    try {
      [result.answer] = await method.call(client, call.args);
    } catch (error) {
      result.fault = faultOf(error);
      if (result.fault === undefined) {
        throw error;
      }
    }
    result.sent = client.lastRequest;
    result.received = client.lastResponse;
    results.push(result);
  }
  process.stdout.write(JSON.stringify({ results: results }) + '\n');
}

main().catch((error) => {
  process.stderr.write((error && error.stack ? error.stack : String(error)) + '\n');
  process.exit(1);
});
