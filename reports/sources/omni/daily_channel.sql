select * from daily_channel
