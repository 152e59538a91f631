// Verbatim copy of the JavaScript client example in the original API document (shared/seeds/000_bb034913ae39ab37.txt, "Example Usage").
const ws = new WebSocket('ws://localhost:8000/ws/user1');

ws.onmessage = (event) => {
    const message = JSON.parse(event.data);
    console.log('Received:', message);
};

ws.onopen = () => {
    // Send a text message
    const message = {
        type: 'text',
        content: 'Hello, world!',
        chat_id: 'chat1',
        user_id: 'user1'
    };
    ws.send(JSON.stringify(message));
};
