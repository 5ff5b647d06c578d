"""The phone simulator: plays Twilio's part so anyone can try the hotline without a Twilio account."""
