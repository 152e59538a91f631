# Verbatim copy of the Python client example in the original API document (shared/seeds/000_bb034913ae39ab37.txt, "Example Usage").
import asyncio
import websockets
import json

async def chat_client():
    uri = "ws://localhost:8000/ws/user1"
    async with websockets.connect(uri) as websocket:
        # Send a text message
        message = {
            "type": "text",
            "content": "Hello, world!",
            "chat_id": "chat1",
            "user_id": "user1"
        }
        await websocket.send(json.dumps(message))
        
        # Receive messages
        while True:
            response = await websocket.recv()
            print(f"Received: {response}")

asyncio.get_event_loop().run_until_complete(chat_client())
