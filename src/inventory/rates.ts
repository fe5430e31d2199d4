import type { Config } from '../config/index.js';

type Limits = Pick<Config, 'auth' | 'claims' | 'serviceCases' | 'commands' | 'telemetry'>;

const per = (n: number, what: string, window: number) => `${n} ${what} per ${window} s`;

/**
 * The configured limits that bound calls of a route's action, as sentences with the deployment's own values
 * (empty when none is configured: the inventory then says so). Config keys are named so an owner can tune them.
 */
export function rateExpectations(action: string, c: Limits): string[] {
  const commands = (c2: Limits['commands']) => [
    per(c2.perUser, 'commands per user (commands.perUser)', c2.rateWindow),
    per(c2.perClient, 'commands per client (commands.perClient)', c2.rateWindow),
    per(c2.perVehicle, 'commands per vehicle (commands.perVehicle)', c2.rateWindow),
    per(c2.perTenant, 'commands per tenant (commands.perTenant)', c2.rateWindow),
    per(c2.global, 'commands in all (commands.global)', c2.rateWindow),
  ];
  switch (action) {
    case 'auth:login':
      return [
        per(
          c.auth.loginFailuresPerAccount,
          'failed sign-ins per account (auth.loginFailuresPerAccount)',
          c.auth.loginFailureWindow,
        ),
        per(
          c.auth.loginFailuresPerSource,
          'failed sign-ins per address (auth.loginFailuresPerSource)',
          c.auth.loginFailureWindow,
        ),
      ];
    case 'vehicle:claim':
      return [
        per(
          c.claims.failuresPerVehicle,
          'failed claims per vehicle (claims.failuresPerVehicle)',
          c.claims.failureWindow,
        ),
        per(
          c.claims.failuresPerAccount,
          'failed claims per account (claims.failuresPerAccount)',
          c.claims.failureWindow,
        ),
      ];
    case 'service_case:request':
      return [
        per(
          c.serviceCases.requestsPerDealer,
          'requests per dealer (serviceCases.requestsPerDealer)',
          c.serviceCases.requestWindow,
        ),
        per(
          c.serviceCases.requestsPerVin,
          'requests per VIN (serviceCases.requestsPerVin)',
          c.serviceCases.requestWindow,
        ),
      ];
    case 'vehicle:command':
      return [...commands(c.commands), 'and each command type its own rate per vehicle (the command catalog)'];
    case 'fleet:command':
      return [...commands(c.commands), `${c.commands.bulkMaxVehicles} vehicles per request (commands.bulkMaxVehicles)`];
    case 'telemetry:ingest':
    case 'telemetry:backfill':
      return [
        per(c.telemetry.deviceRate, 'messages per device (telemetry.deviceRate)', c.telemetry.rateWindow),
        per(c.telemetry.fleetRate, 'messages in all (telemetry.fleetRate)', c.telemetry.rateWindow),
        `${c.telemetry.maxBatchMessages} messages per batch (telemetry.maxBatchMessages)`,
      ];
    default:
      return [];
  }
}
