// Types the console's scripts use that the DOM library lacks (checked by `tsc`, never served).

interface ConnectApi {
  context: { getToken(callback: (token: string) => void): void };
}

interface Window {
  AP: ConnectApi;
}
