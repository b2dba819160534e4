// The passwords tests sign up and change to: long enough for the policy, and one place to change them.
/** What every test user registers with. */
export const PASSWORD = 'correct horse battery staple'
/** What a test changes or resets a password to: different from PASSWORD, and accepted by the policy too. */
export const NEW_PASSWORD = 'a brand new passphrase for alice'
