/** Authentication context classes of a sign-in: a password alone, or a password and a second factor. */
export const ACR = { password: 'urn:carapace:acr:pwd', mfa: 'urn:carapace:acr:mfa' } as const;
