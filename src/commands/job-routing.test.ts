import { describe, expect, it } from 'vitest';
import { routedVehicle, routingMessage } from './job-routing.js';

const TP = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('job routing messages', () => {
  it('round-trip a vehicle, with and without the trace context of its job', () => {
    expect(routedVehicle(routingMessage('veh-1'))).toEqual({ vehicleId: 'veh-1', trace: null });
    expect(routedVehicle(routingMessage('veh-1', { jobId: 'job-1', traceparent: TP }))).toEqual({
      vehicleId: 'veh-1',
      trace: { jobId: 'job-1', traceparent: TP },
    });
  });

  it('drop a message with a malformed traceparent, a job without one, or any other field', () => {
    const bad = [
      { v: 1, vehicleId: 'veh-1', jobId: 'job-1', traceparent: '00-xyz-00f067aa0ba902b7-01' },
      { v: 1, vehicleId: 'veh-1', jobId: 'job-1', traceparent: `00-${'0'.repeat(32)}-00f067aa0ba902b7-01` },
      { v: 1, vehicleId: 'veh-1', jobId: 'job-1' },
      { v: 1, vehicleId: 'veh-1', traceparent: TP },
      { v: 1, vehicleId: 'veh-1', jobId: 'job 1; drop', traceparent: TP },
      { v: 1, vehicleId: 'veh-1', jobId: 'job-1', traceparent: TP, envelope: 'x' },
    ];
    for (const m of bad) expect(routedVehicle(JSON.stringify(m)), JSON.stringify(m)).toBeNull();
  });
});
