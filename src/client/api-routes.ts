// Generated from the public API route schemas by `npm run docs:openapi`. Do not edit by hand.

/** Every route of the public API: path parameters, query, body and response bodies by status. */
export interface PublicApiRoutes {
  'GET /healthz': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        status: 'ok';
      };
    };
  };
  'GET /readyz': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        status: 'ready' | 'not_ready';
        checks: Record<string, boolean>;
        details?: Record<string, Record<string, string | number | boolean | null>>;
      };
      503: {
        status: 'ready' | 'not_ready';
        checks: Record<string, boolean>;
        details?: Record<string, Record<string, string | number | boolean | null>>;
      };
    };
  };
  'GET /openapi.json': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
    };
  };
  'GET /api-migrations/{note}': {
    params: {
      note: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
    };
  };
  'GET /pki/crl/{file}': {
    params: {
      file: 'root.crl' | 'fleet.crl' | 'manufacturer.crl';
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
    };
  };
  'GET /pki/ca.pem': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
    };
  };
  'GET /v1/me': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        sub: string;
        email: string;
        name: string;
        memberships: Array<{
          tenantId: string;
          tenantName: string;
          tenantKind: string;
          role: string;
        }>;
        session: {
          clientId: string;
          scopes: Array<string>;
          acr: string | null;
          authTime: number | null;
          binding: string;
        };
      };
    };
  };
  'POST /v1/me/password': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      currentPassword: string;
      newPassword: string;
    };
    responses: {
      204: null;
    };
  };
  'POST /v1/me/mfa/totp': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      currentPassword: string;
    };
    responses: {
      201: {
        secret: string;
        otpauthUri: string;
      };
    };
  };
  'POST /v1/me/mfa/totp/confirm': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      code: string;
    };
    responses: {
      204: null;
    };
  };
  'POST /v1/tenants/{tenantId}/invitations': {
    params: {
      tenantId: string;
    };
    query: Record<string, never>;
    body: {
      email: string;
      role:
        | 'owner'
        | 'driver'
        | 'fleet_admin'
        | 'fleet_operator'
        | 'dealer_technician'
        | 'support_agent'
        | 'security_admin';
    };
    responses: {
      201: {
        id: string;
        code: string;
        expiresAt: string;
      };
    };
  };
  'POST /v1/invitations/accept': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      code: string;
    };
    responses: {
      200: {
        tenantId: string;
        role: string;
      };
    };
  };
  'GET /v1/vehicles/{vehicleId}/status': {
    params: {
      vehicleId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        vehicleId: string;
        device: {
          status: string;
          enrolledAt: string | null;
        } | null;
        reported: {
          speedKmh: {
            value: number;
            at: string;
          } | null;
          gear: {
            value: string;
            at: string;
          } | null;
          locks: {
            value: {
              locked: boolean;
              open: Array<string>;
            };
            at: string;
          } | null;
          charging: {
            value: {
              charging: boolean;
              plugged: boolean;
              socPercent: number;
            };
            at: string;
          } | null;
          odometerKm: {
            value: number;
            at: string;
          } | null;
          updatedAt: string;
        } | null;
      };
    };
  };
  'GET /v2/vehicles/{vehicleId}/status': {
    params: {
      vehicleId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        vehicle: {
          id: string;
        };
        unit: {
          status: string;
          enrolledAt: string | null;
        } | null;
        state: {
          speedKmh: {
            value: number;
            at: string;
          } | null;
          gear: {
            value: string;
            at: string;
          } | null;
          locks: {
            value: {
              locked: boolean;
              open: Array<string>;
            };
            at: string;
          } | null;
          charging: {
            value: {
              charging: boolean;
              plugged: boolean;
              socPercent: number;
            };
            at: string;
          } | null;
          odometerKm: {
            value: number;
            at: string;
          } | null;
          updatedAt: string;
        } | null;
      };
    };
  };
  'GET /v1/vehicles': {
    params: Record<string, never>;
    query: {
      limit?: string;
      cursor?: string;
    };
    body: undefined;
    responses: {
      200: {
        vehicles: Array<{
          id: string;
          vin: string | null;
          access: Array<'owner' | 'driver' | 'fleet' | 'dealer' | 'support' | 'partner'>;
        }>;
        next?: string;
      };
    };
  };
  'GET /v1/vehicles/{vehicleId}': {
    params: {
      vehicleId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        id: string;
        vin: string | null;
        access: Array<'owner' | 'driver' | 'fleet' | 'dealer' | 'support' | 'partner'>;
      };
    };
  };
  'GET /v1/vehicles/{vehicleId}/location': {
    params: {
      vehicleId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        vehicleId: string;
        position: {
          lat: number;
          lon: number;
          at: string;
        } | null;
      };
    };
  };
  'GET /v1/vehicles/{vehicleId}/diagnostics': {
    params: {
      vehicleId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        vehicleId: string;
        device: {
          status: string;
          enrolledAt: string | null;
        } | null;
        troubleCodes: Array<string>;
      };
    };
  };
  'POST /v1/vehicle-claims': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      vin: string;
      code: string;
    };
    responses: {
      201: {
        vehicleId: string;
      };
    };
  };
  'POST /v1/vehicles/{vehicleId}/transfer': {
    params: {
      vehicleId: string;
    };
    query: Record<string, never>;
    body: {
      toEmail: string;
    };
    responses: {
      200: {
        vehicleId: string;
        ended: Record<string, number>;
      };
    };
  };
  'POST /v1/vehicles/{vehicleId}/delegations': {
    params: {
      vehicleId: string;
    };
    query: Record<string, never>;
    body: {
      email: string;
      commands: Array<
        | 'lock'
        | 'unlock'
        | 'remote_start'
        | 'remote_stop'
        | 'climate'
        | 'horn_lights'
        | 'charge_start'
        | 'charge_stop'
        | 'charge_limit'
        | 'trunk_open'
      >;
      validFrom?: string;
      validUntil: string;
    };
    responses: {
      201: {
        invite: {
          id: string;
          vehicleId: string;
          inviteeEmail: string;
          commands: Array<string>;
          validFrom: string;
          validUntil: string;
          expiresAt: string;
          status: string;
        };
        code: string;
      };
    };
  };
  'GET /v1/vehicles/{vehicleId}/delegations': {
    params: {
      vehicleId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        delegations: Array<{
          id: string;
          vehicleId: string;
          driver: {
            id: string;
            name: string;
            email: string;
          };
          commands: Array<string>;
          validFrom: string;
          validUntil: string | null;
        }>;
        invites: Array<{
          id: string;
          vehicleId: string;
          inviteeEmail: string;
          commands: Array<string>;
          validFrom: string;
          validUntil: string;
          expiresAt: string;
          status: string;
        }>;
      };
    };
  };
  'POST /v1/delegations/{delegationId}/revoke': {
    params: {
      delegationId: string;
    };
    query: Record<string, never>;
    body: {
      reason: string;
    };
    responses: {
      200: {
        id: string;
        endedAt: string;
      };
    };
  };
  'GET /v1/delegation-invites': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        invites: Array<{
          id: string;
          vehicleId: string;
          inviteeEmail: string;
          commands: Array<string>;
          validFrom: string;
          validUntil: string;
          expiresAt: string;
          status: string;
        }>;
      };
    };
  };
  'POST /v1/delegation-invites/{inviteId}/accept': {
    params: {
      inviteId: string;
    };
    query: Record<string, never>;
    body: {
      code: string;
    };
    responses: {
      201: {
        id: string;
        vehicleId: string;
        driver: {
          id: string;
          name: string;
          email: string;
        };
        commands: Array<string>;
        validFrom: string;
        validUntil: string | null;
      };
    };
  };
  'POST /v1/delegation-invites/{inviteId}/revoke': {
    params: {
      inviteId: string;
    };
    query: Record<string, never>;
    body: {
      reason: string;
    };
    responses: {
      200: {
        id: string;
        endedAt: string;
      };
    };
  };
  'POST /v1/vehicles/{vehicleId}/partner-grants': {
    params: {
      vehicleId: string;
    };
    query: Record<string, never>;
    body: {
      clientId: string;
      scopes: Array<'vehicle:read_status' | 'vehicle:location' | 'vehicle:charging'>;
      until: string;
    };
    responses: {
      201: {
        id: string;
        vehicleId: string;
        clientId: string;
        scopes: Array<string>;
        validUntil: string | null;
      };
    };
  };
  'GET /v1/vehicles/{vehicleId}/partner-grants': {
    params: {
      vehicleId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        grants: Array<{
          id: string;
          vehicleId: string;
          clientId: string;
          scopes: Array<string>;
          validUntil: string | null;
        }>;
      };
    };
  };
  'POST /v1/partner-grants/{grantId}/revoke': {
    params: {
      grantId: string;
    };
    query: Record<string, never>;
    body: {
      reason: string;
    };
    responses: {
      200: {
        id: string;
        endedAt: string;
      };
    };
  };
  'GET /v1/fleets/{tenantId}/groups': {
    params: {
      tenantId: string;
    };
    query: {
      limit?: string;
      cursor?: string;
    };
    body: undefined;
    responses: {
      200: {
        groups: Array<{
          id: string;
          name: string;
        }>;
        next?: string;
      };
    };
  };
  'POST /v1/fleets/{tenantId}/groups': {
    params: {
      tenantId: string;
    };
    query: Record<string, never>;
    body: {
      name: string;
    };
    responses: {
      201: {
        id: string;
        name: string;
      };
    };
  };
  'GET /v1/fleet-groups/{groupId}': {
    params: {
      groupId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        id: string;
        name: string;
        vehicleIds: Array<string>;
        memberIds: Array<string>;
      };
    };
  };
  'PUT /v1/fleet-groups/{groupId}/vehicles/{vehicleId}': {
    params: {
      groupId: string;
      vehicleId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        groupId: string;
        vehicleId?: string;
        userId?: string;
      };
    };
  };
  'DELETE /v1/fleet-groups/{groupId}/vehicles/{vehicleId}': {
    params: {
      groupId: string;
      vehicleId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        groupId: string;
        vehicleId?: string;
        userId?: string;
      };
    };
  };
  'PUT /v1/fleet-groups/{groupId}/members/{userId}': {
    params: {
      groupId: string;
      userId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        groupId: string;
        vehicleId?: string;
        userId?: string;
      };
    };
  };
  'DELETE /v1/fleet-groups/{groupId}/members/{userId}': {
    params: {
      groupId: string;
      userId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        groupId: string;
        vehicleId?: string;
        userId?: string;
      };
    };
  };
  'POST /v1/dealers/{tenantId}/service-cases': {
    params: {
      tenantId: string;
    };
    query: Record<string, never>;
    body: {
      vin: string;
      reason: string;
    };
    responses: {
      202: {
        id: string;
        dealerTenantId: string;
        vehicleId: string | null;
        reason: string;
        status: string;
        requestedAt: string;
        closesAt: string | null;
      };
    };
  };
  'GET /v1/dealers/{tenantId}/service-cases': {
    params: {
      tenantId: string;
    };
    query: {
      limit?: string;
      cursor?: string;
    };
    body: undefined;
    responses: {
      200: {
        cases: Array<{
          id: string;
          dealerTenantId: string;
          vehicleId: string | null;
          reason: string;
          status: string;
          requestedAt: string;
          closesAt: string | null;
        }>;
        next?: string;
      };
    };
  };
  'GET /v1/vehicles/{vehicleId}/service-cases': {
    params: {
      vehicleId: string;
    };
    query: {
      limit?: string;
      cursor?: string;
    };
    body: undefined;
    responses: {
      200: {
        cases: Array<{
          id: string;
          dealerTenantId: string;
          vehicleId: string | null;
          reason: string;
          status: string;
          requestedAt: string;
          closesAt: string | null;
        }>;
        next?: string;
      };
    };
  };
  'POST /v1/service-cases/{caseId}/consent': {
    params: {
      caseId: string;
    };
    query: Record<string, never>;
    body: {
      days: number;
    };
    responses: {
      200: {
        id: string;
        dealerTenantId: string;
        vehicleId: string | null;
        reason: string;
        status: string;
        requestedAt: string;
        closesAt: string | null;
      };
    };
  };
  'POST /v1/service-cases/{caseId}/close': {
    params: {
      caseId: string;
    };
    query: Record<string, never>;
    body: {
      resolution: string;
    };
    responses: {
      200: {
        id: string;
        status: string;
      };
    };
  };
  'POST /v1/support-cases': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: {
      accountEmail: string;
      assigneeEmail: string;
      vehicleId?: string;
      summary: string;
    };
    responses: {
      201: {
        id: string;
        accountId: string;
        vehicleId: string | null;
        assigneeId: string;
        summary: string;
        status: string;
        openedAt: string;
      };
    };
  };
  'GET /v1/support-cases': {
    params: Record<string, never>;
    query: {
      limit?: string;
      cursor?: string;
    };
    body: undefined;
    responses: {
      200: {
        cases: Array<{
          id: string;
          accountId: string;
          vehicleId: string | null;
          assigneeId: string;
          summary: string;
          status: string;
          openedAt: string;
        }>;
        next?: string;
      };
    };
  };
  'POST /v1/support-cases/{caseId}/close': {
    params: {
      caseId: string;
    };
    query: Record<string, never>;
    body: {
      resolution: string;
    };
    responses: {
      200: {
        id: string;
        status: string;
      };
    };
  };
  'POST /v1/support-cases/{caseId}/approvals': {
    params: {
      caseId: string;
    };
    query: Record<string, never>;
    body: {
      command:
        | 'lock'
        | 'unlock'
        | 'remote_start'
        | 'remote_stop'
        | 'climate'
        | 'horn_lights'
        | 'charge_start'
        | 'charge_stop'
        | 'charge_limit'
        | 'trunk_open';
      reason: string;
      minutes?: number;
    };
    responses: {
      201: {
        id: string;
        supportCaseId: string;
        agentId: string;
        vehicleId: string;
        command: string;
        expiresAt: string;
      };
    };
  };
  'GET /v1/accounts/{accountId}': {
    params: {
      accountId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        id: string;
        name: string;
        email: string;
        vehicleIds: Array<string>;
      };
    };
  };
  'GET /v1/support/accounts': {
    params: Record<string, never>;
    query: {
      email: string;
    };
    body: undefined;
    responses: {
      200: {
        accounts: Array<{
          id: string;
          name: string;
          email: string;
        }>;
      };
    };
  };
  'POST /v1/vehicles/{vehicleId}/commands': {
    params: {
      vehicleId: string;
    };
    query: Record<string, never>;
    body: {
      command:
        | 'lock'
        | 'unlock'
        | 'remote_start'
        | 'remote_stop'
        | 'climate'
        | 'horn_lights'
        | 'charge_start'
        | 'charge_stop'
        | 'charge_limit'
        | 'trunk_open'
        | 'diagnostics_run'
        | 'immobilize';
      params?: Record<string, never>;
    };
    responses: {
      200: {
        id: string;
        vehicleId: string;
        command: string;
        params: Record<string, string | number | boolean>;
        state: string;
        reason: string | null;
        retry: string | null;
        final: boolean;
        createdAt: string;
        expiresAt: string;
        updatedAt: string;
        decisionHash: string;
        policyVersion: string;
        batchId: string | null;
        transitions?: Array<{
          from: string | null;
          to: string;
          at: string;
          actor: string;
          reason: string;
        }>;
      };
      202: {
        id: string;
        vehicleId: string;
        command: string;
        params: Record<string, string | number | boolean>;
        state: string;
        reason: string | null;
        retry: string | null;
        final: boolean;
        createdAt: string;
        expiresAt: string;
        updatedAt: string;
        decisionHash: string;
        policyVersion: string;
        batchId: string | null;
        transitions?: Array<{
          from: string | null;
          to: string;
          at: string;
          actor: string;
          reason: string;
        }>;
      };
    };
  };
  'GET /v1/vehicles/{vehicleId}/commands': {
    params: {
      vehicleId: string;
    };
    query: {
      limit?: string;
      cursor?: string;
    };
    body: undefined;
    responses: {
      200: {
        jobs: Array<{
          id: string;
          vehicleId: string;
          command: string;
          params: Record<string, string | number | boolean>;
          state: string;
          reason: string | null;
          retry: string | null;
          final: boolean;
          createdAt: string;
          expiresAt: string;
          updatedAt: string;
          decisionHash: string;
          policyVersion: string;
          batchId: string | null;
          transitions?: Array<{
            from: string | null;
            to: string;
            at: string;
            actor: string;
            reason: string;
          }>;
        }>;
        next?: string;
      };
    };
  };
  'GET /v1/vehicles/{vehicleId}/commands/{jobId}': {
    params: {
      vehicleId: string;
      jobId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        id: string;
        vehicleId: string;
        command: string;
        params: Record<string, string | number | boolean>;
        state: string;
        reason: string | null;
        retry: string | null;
        final: boolean;
        createdAt: string;
        expiresAt: string;
        updatedAt: string;
        decisionHash: string;
        policyVersion: string;
        batchId: string | null;
        transitions?: Array<{
          from: string | null;
          to: string;
          at: string;
          actor: string;
          reason: string;
        }>;
      };
    };
  };
  'GET /v1/vehicles/{vehicleId}/commands/{jobId}/events': {
    params: {
      vehicleId: string;
      jobId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
    };
  };
  'POST /v1/fleets/{tenantId}/commands': {
    params: {
      tenantId: string;
    };
    query: Record<string, never>;
    body: {
      command:
        | 'lock'
        | 'unlock'
        | 'remote_start'
        | 'remote_stop'
        | 'climate'
        | 'horn_lights'
        | 'charge_start'
        | 'charge_stop'
        | 'charge_limit'
        | 'trunk_open'
        | 'diagnostics_run'
        | 'immobilize';
      params?: Record<string, never>;
      vehicleIds?: Array<string>;
      groupId?: string;
    };
    responses: {
      200: {
        batchId: string;
        jobs: Array<{
          id: string;
          vehicleId: string;
          state: string;
          reason: string | null;
        }>;
      };
      202: {
        batchId: string;
        jobs: Array<{
          id: string;
          vehicleId: string;
          state: string;
          reason: string | null;
        }>;
      };
    };
  };
  'GET /v1/webhooks/keys': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        keys: Array<{
          kid: string;
          alg: 'Ed25519';
          publicKey: string;
          status: 'active' | 'retired';
          createdAt: string;
          retiredAt: string | null;
        }>;
      };
    };
  };
  'GET /v1/tenants/{tenantId}/webhooks': {
    params: {
      tenantId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        subscriptions: Array<{
          id: string;
          tenantId: string;
          ownerKind: 'user' | 'application';
          url: string;
          description: string;
          eventTypes: Array<string>;
          status: 'active' | 'disabled';
          disabledReason: string | null;
          consecutiveFailures: number;
          previousSecretUntil: string | null;
          createdAt: string;
          updatedAt: string;
        }>;
      };
    };
  };
  'POST /v1/tenants/{tenantId}/webhooks': {
    params: {
      tenantId: string;
    };
    query: Record<string, never>;
    body: {
      url: string;
      eventTypes: Array<
        | 'command.job.state_changed'
        | 'vehicle.state_changed'
        | 'consent.granted'
        | 'consent.revoked'
        | 'detection.finding'
        | 'incident.changed'
      >;
      description?: string;
    };
    responses: {
      201: {
        subscription: {
          id: string;
          tenantId: string;
          ownerKind: 'user' | 'application';
          url: string;
          description: string;
          eventTypes: Array<string>;
          status: 'active' | 'disabled';
          disabledReason: string | null;
          consecutiveFailures: number;
          previousSecretUntil: string | null;
          createdAt: string;
          updatedAt: string;
        };
        secret: string;
      };
    };
  };
  'GET /v1/tenants/{tenantId}/webhooks/{subscriptionId}': {
    params: {
      tenantId: string;
      subscriptionId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        id: string;
        tenantId: string;
        ownerKind: 'user' | 'application';
        url: string;
        description: string;
        eventTypes: Array<string>;
        status: 'active' | 'disabled';
        disabledReason: string | null;
        consecutiveFailures: number;
        previousSecretUntil: string | null;
        createdAt: string;
        updatedAt: string;
      };
    };
  };
  'PUT /v1/tenants/{tenantId}/webhooks/{subscriptionId}': {
    params: {
      tenantId: string;
      subscriptionId: string;
    };
    query: Record<string, never>;
    body: {
      url?: string;
      eventTypes?: Array<
        | 'command.job.state_changed'
        | 'vehicle.state_changed'
        | 'consent.granted'
        | 'consent.revoked'
        | 'detection.finding'
        | 'incident.changed'
      >;
      description?: string;
      status?: 'active';
    };
    responses: {
      200: {
        id: string;
        tenantId: string;
        ownerKind: 'user' | 'application';
        url: string;
        description: string;
        eventTypes: Array<string>;
        status: 'active' | 'disabled';
        disabledReason: string | null;
        consecutiveFailures: number;
        previousSecretUntil: string | null;
        createdAt: string;
        updatedAt: string;
      };
    };
  };
  'DELETE /v1/tenants/{tenantId}/webhooks/{subscriptionId}': {
    params: {
      tenantId: string;
      subscriptionId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      204: null;
    };
  };
  'POST /v1/tenants/{tenantId}/webhooks/{subscriptionId}/rotate-secret': {
    params: {
      tenantId: string;
      subscriptionId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: {
        subscription: {
          id: string;
          tenantId: string;
          ownerKind: 'user' | 'application';
          url: string;
          description: string;
          eventTypes: Array<string>;
          status: 'active' | 'disabled';
          disabledReason: string | null;
          consecutiveFailures: number;
          previousSecretUntil: string | null;
          createdAt: string;
          updatedAt: string;
        };
        secret: string;
      };
    };
  };
  'POST /v1/tenants/{tenantId}/webhooks/{subscriptionId}/ping': {
    params: {
      tenantId: string;
      subscriptionId: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      202: {
        id: string;
        subscriptionId: string;
        eventId: string;
        eventType: string;
        state: 'pending' | 'delivered' | 'dead' | 'withheld';
        attempts: number;
        nextAttemptAt: string | null;
        lastStatus: number | null;
        lastError: string | null;
        withheldReason: string | null;
        createdAt: string;
        finishedAt: string | null;
      };
    };
  };
  'GET /v1/tenants/{tenantId}/webhooks/{subscriptionId}/deliveries': {
    params: {
      tenantId: string;
      subscriptionId: string;
    };
    query: {
      state?: 'pending' | 'delivered' | 'dead' | 'withheld';
    };
    body: undefined;
    responses: {
      200: {
        deliveries: Array<{
          id: string;
          subscriptionId: string;
          eventId: string;
          eventType: string;
          state: 'pending' | 'delivered' | 'dead' | 'withheld';
          attempts: number;
          nextAttemptAt: string | null;
          lastStatus: number | null;
          lastError: string | null;
          withheldReason: string | null;
          createdAt: string;
          finishedAt: string | null;
        }>;
      };
    };
  };
  'GET /oauth/.well-known/openid-configuration': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'GET /oauth/jwks': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'GET /oauth/auth': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'POST /oauth/auth': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'GET /oauth/auth/{uid}': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'POST /oauth/token': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'POST /oauth/token/revocation': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'GET /oauth/me': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'POST /oauth/me': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'GET /oauth/session/end': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'POST /oauth/session/end': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'POST /oauth/session/end/confirm': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'GET /oauth/session/end/success': {
    params: Record<string, never>;
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      302: null;
      303: null;
    };
  };
  'GET /interaction/{uid}': {
    params: {
      uid: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      303: null;
    };
  };
  'POST /interaction/{uid}/login': {
    params: {
      uid: string;
    };
    query: Record<string, never>;
    body: {
      email: string;
      password: string;
      totp?: string;
    };
    responses: {
      200: string;
      303: null;
    };
  };
  'POST /interaction/{uid}/confirm': {
    params: {
      uid: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      303: null;
    };
  };
  'POST /interaction/{uid}/abort': {
    params: {
      uid: string;
    };
    query: Record<string, never>;
    body: undefined;
    responses: {
      200: string;
      303: null;
    };
  };
}
